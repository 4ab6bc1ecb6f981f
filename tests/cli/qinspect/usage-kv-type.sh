qinspect --kv-type=q9_9 model.gguf
