qinspect --version
