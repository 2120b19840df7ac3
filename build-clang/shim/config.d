build-clang/shim/config.o: shim/config.c shim/fdleak.h common/contract.h \
  common/signame.h

shim/fdleak.h:

common/contract.h:

common/signame.h:
