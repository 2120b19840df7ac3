build-clang/tools/util.o: tools/util.c tools/util.h

tools/util.h:
