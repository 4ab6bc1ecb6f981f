# --tensor GLOB, repeatable: the union of the matches, in file order.
cd "$FIX" && qinspect -T '*attn_v*' -T 'output*' stories260K-q8_0.gguf
