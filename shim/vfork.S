/* vfork: the child borrows the parent's memory, stack and thread-local storage until it
 * execs or exits, and its close/dup2 calls reach our wrappers. A C wrapper cannot return
 * twice on a shared stack, so this makes the system call itself, as glibc's vfork does
 * (return address kept in %rdi across the call), and sets fdl_vfork_child around it: in the
 * child every wrapper passes straight through and nothing in the parent's table changes. */
	.text
	.globl	vfork
	.type	vfork, @function
vfork:
	movq	fdl_vfork_child@GOTTPOFF(%rip), %rcx
	movl	$1, %fs:(%rcx)
	popq	%rdi			/* return address: the child clobbers our stack */
	movl	$58, %eax		/* __NR_vfork */
	syscall
	pushq	%rdi
	testq	%rax, %rax
	jz	1f			/* child: keep passing through until exec/_exit */
	movq	fdl_vfork_child@GOTTPOFF(%rip), %rcx
	movl	$0, %fs:(%rcx)		/* parent (or error): the child is gone */
	cmpq	$-4095, %rax
	jae	2f
1:	ret
2:	negl	%eax
	movl	%eax, %edi
	jmp	fdl_vfork_error
	.size	vfork, .-vfork
	.section .note.GNU-stack,"",@progbits
