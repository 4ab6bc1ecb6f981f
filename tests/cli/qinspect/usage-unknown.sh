qinspect --bogus model.gguf
