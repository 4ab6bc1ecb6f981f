qinspect --help
