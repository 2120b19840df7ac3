build-clang/shim/out.o: shim/out.c shim/out.h

shim/out.h:
