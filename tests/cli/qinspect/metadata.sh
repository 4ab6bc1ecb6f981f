# Metadata of convert_hf_to_gguf's q8_0 file: arrays shortened to 8 items.
cd "$FIX" && qinspect -m stories260K-q8_0.gguf
