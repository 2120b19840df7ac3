build-clang/tools/json_read.o: tools/json_read.cc tools/json.h \
 tools/util.h
tools/json.h:
tools/util.h:
