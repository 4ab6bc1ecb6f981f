# --raw lists the physical tensors and leaves out the layout line and JSON key.
cd "$FIX" || exit 9
qinspect --raw -t st-awq-gemm-b4-g128
echo "layout lines: $(qinspect --raw st-awq-gemm-b4-g128 | grep -c layout:)"
echo "layout keys: $(qinspect --raw --json st-awq-gemm-b4-g128 | grep -c '"layout"')"
