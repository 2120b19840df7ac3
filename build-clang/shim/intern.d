build-clang/shim/intern.o: shim/intern.c shim/intern.h

shim/intern.h:
