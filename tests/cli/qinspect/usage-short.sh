qinspect -Z model.gguf
