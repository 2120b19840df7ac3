build-clang/tools/model.o: tools/model.c tools/model.h tools/dumpfile.h \
  common/contract.h tools/symbolize.h tools/json.h common/report_text.h \
  tools/util.h

tools/model.h:

tools/dumpfile.h:

common/contract.h:

tools/symbolize.h:

tools/json.h:

common/report_text.h:

tools/util.h:
