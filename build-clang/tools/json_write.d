build-clang/tools/json_write.o: tools/json_write.c tools/json.h

tools/json.h:
