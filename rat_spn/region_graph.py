"""Region graphs: the structure of a RAT-SPN (Peharz et al. 2018, section 3).

A region is a sorted tuple of item indices. A partition splits a region into
disjoint sub-regions whose union is the region; it becomes one product vector
of the SPN, and the partitions of a region feed the sum vector of that region.
"""

import numpy as np


class RegionGraph:
    """A rooted region graph over the items ``0 .. num_items - 1``."""

    def __init__(self, num_items, seed=0):
        if int(num_items) < 1:
            raise ValueError(f'num_items must be positive, got {num_items}')
        self.num_items = int(num_items)
        self.root = tuple(range(self.num_items))
        self._rng = np.random.RandomState(seed)
        self._regions = {self.root}
        self._children = {}  # region -> list of partitions (tuples of regions)

    @property
    def regions(self):
        """Every region of the graph (a copy)."""
        return set(self._regions)

    def partitions_of(self, region):
        """The partitions that split ``region`` (empty for a leaf)."""
        return list(self._children.get(tuple(region), []))

    def add_partition(self, region, parts):
        """Adds the partition ``region = parts[0] | parts[1] | ...`` (once)."""
        region = tuple(sorted(region))
        if region not in self._regions:
            raise ValueError(f'cannot split {len(region)}-item region: not in the graph')
        partition = tuple(sorted(tuple(sorted(int(i) for i in p)) for p in parts))
        self._regions.update(partition)
        known = self._children.setdefault(region, [])
        if partition not in known:
            known.append(partition)
        return partition

    def random_split(self, num_parts=2, num_recursions=1, region=None):
        """Splits ``region`` (default: the root) at random, ``num_recursions`` deep.

        Every split draws a fresh permutation of the region and cuts it into
        ``num_parts`` near-equal parts, the first ``len % num_parts`` one larger.
        """
        region = self.root if region is None else tuple(sorted(region))
        if num_recursions < 1 or len(region) < 2:
            return None
        order = self._rng.permutation(np.asarray(region))
        num_parts = min(num_parts, len(region))
        size, extra = divmod(len(region), num_parts)
        bounds = np.cumsum([0] + [size + (k < extra) for k in range(num_parts)])
        parts = [order[bounds[k]:bounds[k + 1]] for k in range(num_parts)]
        partition = self.add_partition(region, parts)
        for part in partition:
            self.random_split(num_parts, num_recursions - 1, part)
        return partition

    @classmethod
    def random(cls, num_items, num_splits, depth, num_parts=2, seed=0):
        """RAT-SPN's structure: ``num_splits`` random splits of the root, each ``depth`` deep
        (Peharz et al. 2018; SuPAIR: 6 splits 2 deep for objects, 3 splits 1 deep for the
        background)."""
        graph = cls(num_items, seed=seed)
        for _ in range(num_splits):
            graph.random_split(num_parts=num_parts, num_recursions=depth)
        return graph

    @classmethod
    def poon_domingos(cls, height, width, step, max_depth=None):
        """Image region graph of Poon & Domingos (2011): axis-aligned cuts every ``step`` pixels.

        Regions are rectangles of a row-major ``height x width`` image; a region at
        depth ``max_depth`` is not split further.
        """
        graph = cls(height * width)
        pixel = np.arange(height * width).reshape(height, width)

        def items(rect):
            r0, r1, c0, c1 = rect
            return tuple(pixel[r0:r1, c0:c1].reshape(-1).tolist())

        depth = {(0, height, 0, width): 0}
        queue = [(0, height, 0, width)]
        while queue:
            rect = queue.pop(0)
            if max_depth is not None and depth[rect] >= max_depth:
                continue
            r0, r1, c0, c1 = rect
            cuts = [((r0, r, c0, c1), (r, r1, c0, c1)) for r in range(r0 + step, r1, step)]
            cuts += [((r0, r1, c0, c), (r0, r1, c, c1)) for c in range(c0 + step, c1, step)]
            for halves in cuts:
                for half in halves:
                    if half not in depth:
                        depth[half] = depth[rect] + 1
                        queue.append(half)
                graph.add_partition(items(rect), [items(h) for h in halves])
        return graph

    def leaves(self):
        """The regions that are not split, sorted."""
        return sorted(r for r in self._regions if r not in self._children)

    def layers(self):
        """The layered view: ``[leaf regions, partitions, regions, partitions, ..., [root]]``.

        A partition sits one layer above its highest child region, a region one
        layer above its highest partition; within a layer the order is sorted.
        """
        self.validate()
        height = {}

        def region_height(region):
            if region not in height:
                parts = self._children.get(region, [])
                height[region] = 0 if not parts else 2 + max(
                    max(region_height(child) for child in p) for p in parts)
            return height[region]

        top = region_height(self.root)
        layers = [[] for _ in range(top + 1)]
        for region in self._reachable():
            layers[region_height(region)].append(region)
            for p in self._children.get(region, []):
                layers[1 + max(height[child] for child in p)].append(p)
        return [sorted(set(layer)) for layer in layers]

    def _reachable(self):
        seen, stack = set(), [self.root]
        while stack:
            region = stack.pop()
            if region not in seen:
                seen.add(region)
                stack.extend(c for p in self._children.get(region, []) for c in p)
        return seen

    def validate(self):
        """Raises ValueError unless every partition is complete and decomposable."""
        for region, parts in self._children.items():
            for p in parts:
                union = [i for child in p for i in child]
                if len(set(union)) != len(union):
                    raise ValueError(f'partition of a {len(region)}-item region is not '
                                     'decomposable: its parts share items')
                if set(union) != set(region):
                    raise ValueError(f'partition of a {len(region)}-item region is not '
                                     f'complete: its parts cover {len(set(union))} items')
        reachable = self._reachable()
        covered = set(i for leaf in self.leaves() if leaf in reachable for i in leaf)
        if covered != set(self.root):
            raise ValueError(f'leaf regions cover {len(covered)} of {self.num_items} items')

    def get_config(self):
        """A JSON-able description: the item count and every partition."""
        return {'num_items': self.num_items,
                'partitions': [[list(region), [list(c) for c in p]]
                               for region in sorted(self._children)
                               for p in self._children[region]]}

    @classmethod
    def from_config(cls, config):
        """The graph ``get_config`` described."""
        graph = cls(config['num_items'])
        # Parents before children: a region must exist before it is split.
        for region, parts in sorted(config['partitions'], key=lambda e: -len(e[0])):
            graph.add_partition(region, parts)
        return graph
