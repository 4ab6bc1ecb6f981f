qinspect --format=onnx model.gguf
