#include "elf_symbols.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_MASK_4K (~(uint64_t)0xfff)

static int in_file(const pk_elf *e, uint64_t off, uint64_t len)
{
    return off <= e->size && len <= e->size - off;
}

static const Elf64_Ehdr *ehdr(const pk_elf *e)
{
    return (const Elf64_Ehdr *)e->map;
}

static int check_header(const pk_elf *e, char *err, size_t errlen)
{
    const Elf64_Ehdr *h = ehdr(e);
    if (e->size < sizeof *h || memcmp(h->e_ident, ELFMAG, SELFMAG) != 0) {
        snprintf(err, errlen, "not an ELF file");
        return -1;
    }
    if (h->e_ident[EI_CLASS] != ELFCLASS64 || h->e_ident[EI_DATA] != ELFDATA2LSB ||
        h->e_machine != EM_X86_64) {
        snprintf(err, errlen, "not an x86_64 ELF64 file");
        return -1;
    }
    if (h->e_type != ET_EXEC && h->e_type != ET_DYN) {
        snprintf(err, errlen, "ELF type %u is neither an executable nor a shared object",
                 (unsigned)h->e_type);
        return -1;
    }
    if (h->e_phentsize != sizeof(Elf64_Phdr) ||
        !in_file(e, h->e_phoff, (uint64_t)h->e_phnum * sizeof(Elf64_Phdr)) ||
        (h->e_shnum && (h->e_shentsize != sizeof(Elf64_Shdr) ||
                        !in_file(e, h->e_shoff, (uint64_t)h->e_shnum * sizeof(Elf64_Shdr))))) {
        snprintf(err, errlen, "ELF program or section headers out of bounds");
        return -1;
    }
    return 0;
}

static int find_first_load(pk_elf *e, char *err, size_t errlen)
{
    const Elf64_Ehdr *h = ehdr(e);
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(e->map + h->e_phoff);
    for (unsigned i = 0; i < h->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD) {
            e->first_load_vaddr = ph[i].p_vaddr & PAGE_MASK_4K;
            return 0;
        }
    }
    snprintf(err, errlen, "ELF file has no PT_LOAD segment");
    return -1;
}

/* Attaches symbol table `sym` (SHT_DYNSYM or SHT_SYMTAB) and its strings. */
static void load_table(pk_elf *e, const Elf64_Shdr *sh, unsigned shnum, unsigned idx)
{
    const Elf64_Shdr *s = &sh[idx];
    if (s->sh_entsize != sizeof(Elf64_Sym) || !in_file(e, s->sh_offset, s->sh_size) ||
        s->sh_link >= shnum)
        return;
    const Elf64_Shdr *str = &sh[s->sh_link];
    if (str->sh_type != SHT_STRTAB || !in_file(e, str->sh_offset, str->sh_size) ||
        str->sh_size == 0)
        return;
    const Elf64_Sym *syms = (const Elf64_Sym *)(e->map + s->sh_offset);
    size_t n = s->sh_size / sizeof(Elf64_Sym);
    const char *strs = (const char *)(e->map + str->sh_offset);
    if (s->sh_type == SHT_DYNSYM) {
        e->dynsym = syms, e->ndynsym = n, e->dynstr = strs, e->dynstr_size = str->sh_size;
    } else {
        e->symtab = syms, e->nsymtab = n, e->strtab = strs, e->strtab_size = str->sh_size;
    }
}

static void find_tables(pk_elf *e)
{
    const Elf64_Ehdr *h = ehdr(e);
    if (h->e_shnum == 0)
        return;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(e->map + h->e_shoff);
    for (unsigned i = 0; i < h->e_shnum; i++)
        if (sh[i].sh_type == SHT_DYNSYM || sh[i].sh_type == SHT_SYMTAB)
            load_table(e, sh, h->e_shnum, i);
}

int pk_elf_open(const char *path, pk_elf *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        snprintf(err, errlen, "%s is not a regular non-empty file", path);
        close(fd);
        return -1;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(saved));
        return -1;
    }
    e->map = m;
    e->size = (size_t)st.st_size;
    if (check_header(e, err, errlen) != 0 || find_first_load(e, err, errlen) != 0) {
        char inner[200];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, errlen, "%s: %s", path, inner);
        pk_elf_close(e);
        return -1;
    }
    e->type = ehdr(e)->e_type;
    find_tables(e);
    return 0;
}

void pk_elf_close(pk_elf *e)
{
    if (e->map)
        munmap((void *)e->map, e->size);
    memset(e, 0, sizeof *e);
}

static uint64_t lookup(const Elf64_Sym *syms, size_t n, const char *strs, size_t strsize,
                       const char *name, uint64_t *size)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < n; i++) {
        const Elf64_Sym *s = &syms[i];
        if (s->st_shndx == SHN_UNDEF || s->st_value == 0 || s->st_name >= strsize)
            continue;
        if (strsize - s->st_name <= nlen)
            continue;
        const char *sn = strs + s->st_name;
        if (memcmp(sn, name, nlen) != 0 || sn[nlen] != '\0')
            continue;
        int t = ELF64_ST_TYPE(s->st_info);
        if (t != STT_FUNC && t != STT_OBJECT && t != STT_NOTYPE)
            continue;
        if (size)
            *size = s->st_size;
        return s->st_value;
    }
    return 0;
}

uint64_t pk_elf_symbol(const pk_elf *e, const char *name, uint64_t *size)
{
    uint64_t v = 0;
    if (e->dynsym)
        v = lookup(e->dynsym, e->ndynsym, e->dynstr, e->dynstr_size, name, size);
    if (!v && e->symtab)
        v = lookup(e->symtab, e->nsymtab, e->strtab, e->strtab_size, name, size);
    return v;
}

int pk_elf_read(const pk_elf *e, uint64_t vaddr, void *buf, size_t len)
{
    const Elf64_Ehdr *h = ehdr(e);
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(e->map + h->e_phoff);
    for (unsigned i = 0; i < h->e_phnum; i++) {
        const Elf64_Phdr *p = &ph[i];
        if (p->p_type != PT_LOAD || vaddr < p->p_vaddr)
            continue;
        uint64_t rel = vaddr - p->p_vaddr;
        if (rel > p->p_filesz || len > p->p_filesz - rel)
            continue;
        if (!in_file(e, p->p_offset + rel, len))
            return -1;
        memcpy(buf, e->map + p->p_offset + rel, len);
        return 0;
    }
    return -1;
}
