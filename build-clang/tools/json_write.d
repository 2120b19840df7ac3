build-clang/tools/json_write.o: tools/json_write.c tools/json.h \
  common/utf8.h

tools/json.h:

common/utf8.h:
