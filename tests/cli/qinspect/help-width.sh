# --help fits 80 columns.
qinspect --help | awk 'length > 79 { print "too long: " $0 } END { print (NR > 30 ? "ok" : "short") }'
