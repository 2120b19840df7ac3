/* fdl_stack_call(a, b, fn, top): returns fn(a, b) run with %rsp = top, a private stack (see
 * capture.c). The frame stays on the caller's stack as a standard rbp frame (CFA = rbp+16,
 * return address at CFA-8, saved rbp at CFA-16), so libunwind's fast trace unwinds from the
 * private stack back onto the caller's without leaving its cached path. */
	.text
	.globl	fdl_stack_call
	.hidden	fdl_stack_call
	.type	fdl_stack_call, @function
fdl_stack_call:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	movq	%rcx, %rsp		/* top is 16-aligned: the call leaves fn its usual alignment */
	call	*%rdx
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	fdl_stack_call, .-fdl_stack_call
	.section .note.GNU-stack,"",@progbits
