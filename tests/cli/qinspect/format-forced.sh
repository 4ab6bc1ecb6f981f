# --format skips probing: a GGUF file read as safetensors is malformed.
cd "$FIX" && qinspect --format=safetensors stories260K-q8_0.gguf
