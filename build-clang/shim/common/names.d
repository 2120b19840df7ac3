build-clang/shim/common/names.o: common/names.c common/contract.h

common/contract.h:
