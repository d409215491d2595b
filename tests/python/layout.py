#!/usr/bin/env python3
"""The layout rules of the crate (README, Layout), checked on src/:
- no import cycles between modules: an edge A -> B when a file of module A
  names `crate::B...` or, for siblings, `super::B...` (test code excluded);
  checked between top-level modules and between siblings in each module;
- no file over 800 lines before its tests;
- `unsafe` only in src/h5 and src/sys.rs.
Prints one line per breach and exits 1 if there is any."""
import os, re, sys, itertools
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
mods = {}
for dp, dn, fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f)
        rel = os.path.relpath(p, root)[:-3].split(os.sep)
        if rel[-1] == 'mod': rel = rel[:-1]
        if rel in (['lib'], ['main']): rel = ['crate']
        name = '::'.join(rel)
        text = open(p).read()
        # drop test modules
        text = text.split('#[cfg(test)]')[0]
        mods[name] = text
edges = set()
for name, text in mods.items():
    parent = '::'.join(name.split('::')[:-1])
    for m in re.finditer(r'\bcrate::((?:[a-z_]+::)*[a-z_]+)', text):
        target = m.group(1)
        parts = target.split('::')
        for k in range(len(parts), 0, -1):
            cand = '::'.join(parts[:k])
            if cand in mods: edges.add((name, cand)); break
    for m in re.finditer(r'\bsuper::([a-z_]+)', text):
        sib = (parent + '::' if parent else '') + m.group(1)
        if sib in mods and sib != name: edges.add((name, sib))
# collapse: top-level graph and sibling graphs
def cycles(nodes, es):
    graph = {n: set() for n in nodes}
    for a, b in es:
        if a in graph and b in graph and a != b: graph[a].add(b)
    found = []
    index = {}; low = {}; stack = []; on = set(); i = [0]
    def strong(v):
        index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index: strong(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: found.append(sorted(comp))
    for v in nodes:
        if v not in index: strong(v)
    return found
bad = False
for dp, dn, fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'):
            continue
        p = os.path.join(dp, f)
        rel = os.path.relpath(p, root)
        code = open(p).read().split('#[cfg(test)]')[0]
        n = code.count('\n')
        if n > 800:
            print(f'{rel}: {n} lines before its tests (at most 800)'); bad = True
        if re.search(r'\bunsafe\b', code) and not (rel.startswith('h5' + os.sep) or rel == 'sys.rs'):
            print(f'{rel}: unsafe outside src/h5 and src/sys.rs'); bad = True
top = {n.split('::')[0] for n in mods if n != 'crate'}
tes = {(a.split('::')[0], b.split('::')[0]) for a, b in edges if a != 'crate'}
for c in cycles(sorted(top), tes):
    print('cycle between top-level modules:', ' <-> '.join(c)); bad = True
groups = {}
for n in mods:
    groups.setdefault('::'.join(n.split('::')[:-1]), []).append(n)
for g, ns in groups.items():
    for c in cycles(sorted(ns), edges):
        print(f'cycle inside {g or "crate"}:', ' <-> '.join(c)); bad = True
print('layout ok' if not bad else '')
sys.exit(1 if bad else 0)
