/* Symbols of an ELF64 file (x86_64): .dynsym, then .symtab when present.
 * The file is mapped read-only and every offset in it is bounds-checked:
 * it comes from the target's file system. */
#ifndef PEEKA_ELF_SYMBOLS_H
#define PEEKA_ELF_SYMBOLS_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pk_elf {
    const uint8_t *map;
    size_t size;
    int type;                  /* ET_EXEC or ET_DYN */
    uint64_t first_load_vaddr; /* p_vaddr of the first PT_LOAD, page-aligned */
    const Elf64_Sym *dynsym;
    size_t ndynsym;
    const char *dynstr;
    size_t dynstr_size;
    const Elf64_Sym *symtab;
    size_t nsymtab;
    const char *strtab;
    size_t strtab_size;
} pk_elf;

/* 0, or -1 with a message in err. */
int  pk_elf_open(const char *path, pk_elf *e, char *err, size_t errlen);
void pk_elf_close(pk_elf *e);

/* The link-time address of a defined symbol, 0 when it is absent.
 * Runtime address = this + load bias. */
uint64_t pk_elf_symbol(const pk_elf *e, const char *name, uint64_t *size);

/* Copies len bytes of initialised file data found at link-time address
 * vaddr (e.g. a const variable).  0, or -1 when not backed by the file. */
int pk_elf_read(const pk_elf *e, uint64_t vaddr, void *buf, size_t len);

/* Load bias of a mapped image: start of its lowest mapping minus the
 * page-aligned p_vaddr of its first PT_LOAD. */
static inline uint64_t pk_elf_bias(const pk_elf *e, uint64_t map_start)
{
    return map_start - e->first_load_vaddr;
}

#endif
