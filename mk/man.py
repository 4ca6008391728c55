#!/usr/bin/env python3
"""Builds peeka's man pages from the sources users already read, so that a
page cannot drift from the program:

  man.py help NAME SECTION HELP.txt README.md EXTRA.md [SCRIPTS.txt] > NAME.SECTION
      the program's own --help text, turned into SYNOPSIS, DESCRIPTION and
      one section per "Heading:" block; EXIT STATUS is NAME's part of
      README's exit code table; EXTRA.md adds hand-written sections
      (ENVIRONMENT, FILES, SEE ALSO); SCRIPTS.txt (peeka-analyze -i of every
      built-in script, separated by form feeds) becomes BUILT-IN SCRIPTS.
  man.py md NAME SECTION DOC.md  > NAME.SECTION
      a markdown document (docs/lua-api.md) as a page.

Only the markdown and help-text shapes this project writes are understood:
headings, paragraphs, fenced code, lists, pipe tables, and help items
("  -x, --long ARG   text" with deeper-indented continuations).
"""
import re
import sys

DATE = "2026"


def esc(text):
    """roff-safe text: backslashes, leading dots and quotes, hyphens of options."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(?<![\w])-", r"\\-", text)
    if text[:1] in (".", "'"):
        text = "\\&" + text
    return text


def inline(text):
    """markdown emphasis and code spans to roff fonts, escaped."""
    out, pos = [], 0
    for m in re.finditer(r"`([^`]+)`|\*\*([^*]+)\*\*", text):
        out.append(esc(text[pos:m.start()]))
        out.append("\\fB" + esc(m.group(1) or m.group(2)) + "\\fR")
        pos = m.end()
    out.append(esc(text[pos:]))
    line = "".join(out)
    return ("\\&" + line) if line[:1] in (".", "'") else line


def header(name, section, title):
    return ['.TH %s %s "%s" "peeka" "%s"' % (name.upper(), section, DATE, title)]


# ---- --help text --------------------------------------------------------------

ITEM = re.compile(r"^( {2,6})(\S.*?)(?: {2,}(\S.*))?$")
SECTION = re.compile(r"^([A-Za-z][A-Za-z ()'.-]*):\s*(.*)$")


def help_blocks(text):
    """(heading, lines) pairs: the usage block, the description, then each
    "Heading:" section of the help."""
    lines = text.rstrip("\n").split("\n")
    blocks, cur = [], ("SYNOPSIS", [])
    for line in lines:
        m = SECTION.match(line)
        if m and not line.startswith(" ") and not line.lower().startswith("usage:"):
            blocks.append(cur)
            cur = (m.group(1).upper(), [m.group(2)] if m.group(2) else [])
            continue
        if cur[0] == "SYNOPSIS" and cur[1] and not line.strip():
            blocks.append(cur)
            cur = ("DESCRIPTION", [])
            continue
        cur[1].append(line)
    blocks.append(cur)
    return [(h, ls) for h, ls in blocks if any(x.strip() for x in ls)]


def synopsis(lines):
    out = []
    for line in lines:
        line = re.sub(r"^usage:\s*", "", line.strip())
        if line:
            out += [".br" if out else "", inline(line)]
    return [x for x in out if x]


def items(lines, nest):
    """Help items as .TP entries; continuation lines join their item.  With
    nest, an item indented deeper than the first ones nests under the one
    before (probe options under their probe)."""
    out, depth = [], 0
    base = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=2)
    for line in lines:
        if not line.strip():
            continue
        ind = len(line) - len(line.lstrip())
        m = ITEM.match(line)
        if m and ind <= base + 4 and (m.group(3) or ind == base or line.lstrip()[0] == "-"):
            level = 1 if nest and ind > base else 0
            while depth > level:
                out.append(".RE")
                depth -= 1
            while depth < level:
                out.append(".RS 4")
                depth += 1
            out += [".TP", "\\fB" + esc(m.group(2).strip()) + "\\fR"]
            if m.group(3):
                out.append(esc(m.group(3)))
        elif out and out[-1].startswith("\\fB") and line.lstrip().startswith("["):
            out[-1] = out[-1][:-3] + " " + esc(line.strip()) + "\\fR"
        else:
            out.append(esc(line.strip()))
    out += [".RE"] * depth
    return out


def verbatim(lines):
    body = [esc(x) for x in lines]
    while body and not body[-1].strip():
        body.pop()
    return [".nf", ".RS 2"] + body + [".RE", ".fi"]


def prose(lines):
    out = []
    for line in lines:
        out.append(".PP" if not line.strip() else esc(line.strip()))
    return out


def readme_exit_status(readme, name):
    """The part of README's "## Exit codes" that belongs to NAME (it starts at
    the line "NAME:" and ends at the next program's), so the table has one home."""
    m = re.search(r"^## Exit codes\n(.*?)(?=^## )", readme, re.M | re.S)
    if not m:
        return None
    part = re.split(r"^(?=peeka-[a-z]+:)", m.group(1), flags=re.M)
    mine = [p for p in part if p.startswith(name + ":")]
    return re.sub(r"^%s:\s*" % re.escape(name), "", mine[0]) if mine else None


def help_page(name, section, help_text, extra_md=None, scripts=None, readme=None):
    out = header(name, section, "User Commands")
    summary = ""
    blocks = help_blocks(help_text)
    for heading, lines in blocks:
        if heading == "DESCRIPTION":
            summary = " ".join(x.strip() for x in lines if x.strip()).split(". ")[0].rstrip(".")
            break
    out += [".SH NAME", "%s \\- %s" % (name, esc(summary[:1].lower() + summary[1:]))]
    for heading, lines in blocks:
        if heading.startswith("EXIT CODES"):
            heading = "EXIT STATUS"
            status = readme_exit_status(readme, name) if readme else None
            if status:
                out += ['.SH "EXIT STATUS"'] + md_body(status, top=2)
                continue
        out.append('.SH "%s"' % heading)
        if heading == "SYNOPSIS":
            out += synopsis(lines)
        elif heading == "EXAMPLES":
            out += verbatim([x[2:] if x.startswith("  ") else x for x in lines])
        elif any(ITEM.match(x) and x.lstrip().startswith("-") for x in lines) or heading.startswith("PROBES"):
            out += items(lines, heading.startswith("PROBES"))
        else:
            out += prose(lines)
    if scripts:
        out.append('.SH "BUILT-IN SCRIPTS"')
        for chunk in scripts.split("\f"):
            out += script_entry(chunk)
    if extra_md:
        out += md_body(extra_md, top=2)
    return "\n".join(out) + "\n"


def script_entry(chunk):
    lines = chunk.strip("\n").split("\n")
    if not lines or not lines[0].strip():
        return []
    title = lines[0].split(" - ", 1)
    out = [".TP", "\\fB%s\\fR" % esc(title[0].strip())]
    if len(title) > 1:
        out.append(esc(title[1].strip()))
    rest = lines[1:]
    if rest:
        out += [".RS 4"] + [".nf"] + [esc(x) for x in rest] + [".fi", ".RE"]
    return out


# ---- markdown -----------------------------------------------------------------

def table(rows):
    """A pipe table as one .TP entry per row: the first cell is the term, the
    second its text, later cells follow prefixed with their column's name."""
    split = lambda r: [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", r.strip().strip("|"))]
    cells = [split(r) for r in rows if not re.fullmatch(r"[|:\- ]+", r.strip())]
    head, out = cells[0], []
    for r in cells[1:]:
        out += [".TP", "\\fB" + esc(r[0].strip("`*")) + "\\fR"]
        if len(r) > 1:
            out.append(inline(r[1]))
        for name, c in zip(head[2:], r[2:]):
            if c:
                out += [".br", inline("%s: %s" % (name, c))]
    return out


def md_body(text, top=1):
    """markdown → roff: '#' (top) is the page title and is skipped, '##' .SH,
    deeper headings .SS; fenced code verbatim; lists and tables as .TP/.IP."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(#+)\s+(.*)$", line)
        if m:
            level = len(m.group(1))
            if level >= top:
                tag = ".SH" if level == top else ".SS"
                out.append('%s "%s"' % (tag, inline(m.group(2)).replace('"', "'")))
            i += 1
        elif line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out += verbatim(lines[i + 1:j])
            i = j + 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out += table(lines[i:j])
            i = j
        elif re.match(r"^\s*([-*]|\d+\.)\s+", line):
            out += [".IP \\(bu 2", inline(re.sub(r"^\s*([-*]|\d+\.)\s+", "", line))]
            i += 1
        elif not line.strip():
            out.append(".PP")
            i += 1
        elif i + 1 < len(lines) and lines[i + 1].startswith(": "):
            out += [".TP", inline(line.strip()), inline(lines[i + 1][2:].strip())]
            i += 2
        else:
            j = i + 1
            while j < len(lines) and lines[j].strip() and not re.match(r"^(#|```|\||\s*([-*]|\d+\.)\s|: )", lines[j]) \
                    and not (j + 1 < len(lines) and lines[j + 1].startswith(": ")):
                j += 1
            out.append(inline(" ".join(x.strip() for x in lines[i:j])))
            i = j
    return out


def md_page(name, section, text):
    title = re.search(r"^#\s+(.*)$", text, re.M)
    out = header(name, section, "Miscellaneous")
    out += [".SH NAME", "%s \\- %s" % (name, inline(title.group(1) if title else name))]
    out += [".SH DESCRIPTION"] + md_body(text, top=2)
    return "\n".join(out) + "\n"


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def main(argv):
    if len(argv) in (7, 8) and argv[1] == "help":
        scripts = read(argv[7]) if len(argv) > 7 else None
        sys.stdout.write(help_page(argv[2], argv[3], read(argv[4]), read(argv[6]), scripts,
                                   read(argv[5])))
    elif len(argv) == 5 and argv[1] == "md":
        sys.stdout.write(md_page(argv[2], argv[3], read(argv[4])))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
