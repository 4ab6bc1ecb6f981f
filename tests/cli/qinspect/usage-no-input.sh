qinspect -s
