qinspect --json --ndjson model.gguf
