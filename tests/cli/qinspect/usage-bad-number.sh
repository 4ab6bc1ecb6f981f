qinspect --ctx=12x model.gguf
