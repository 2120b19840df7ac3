/* Python stacks: placeholder until the CPython audit hook lands. */
#include "fdleak.h"

void fdl_python_init(void)
{
}

uint32_t fdl_python_stack(void)
{
    return 0;
}
