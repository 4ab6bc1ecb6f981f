# Part 1 of a gguf-split set opens the whole set: 48 tensors over 3 files.
cd "$FIX" && qinspect stories260K-f32-00001-of-00003.gguf
