# bitsandbytes 4-bit checkpoints list one logical [out, in] tensor per layer, shape from the
# quant_state JSON: weight + absmax + quant_map + quant_state bytes (double quant: U8 absmax +
# nested_absmax + nested_quant_map) over out x in.
cd "$FIX" || exit 9
qinspect -t st-bnb-nf4-bs64-dq st-bnb-fp4-bs64
qinspect st-bnb-nf4-bs64 | grep layout:
