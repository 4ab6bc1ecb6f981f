# An MLX affine checkpoint (config.json "quantization") lists one logical [out, in] tensor per
# quantized layer: in = weight words x 32 / bits; bytes = weight + scales + biases.
cd "$FIX" || exit 9
qinspect -t st-mlx-tiny
qinspect st-mlx-tiny | grep layout:
