qinspect model.gguf --ctx
