# compressed-tensors checkpoints (pack-quantized int4 asymmetric, int8, float-quantized FP8)
# list logical tensors: weight_packed + weight_scale + weight_zero_point + weight_shape bytes
# (FP8: weight + weight_scale) over out x in.
cd "$FIX" || exit 9
qinspect -t st-ct-int4-g128-asym st-ct-int8-g128-sym st-ct-fp8-e4m3-channel
qinspect st-ct-int4-channel-sym | grep layout:
