"""Never imported by the parent: its probe stays pending (an import hook on
sys.meta_path) while the parent forks."""


def f():
    return "later"
