import numpy as np
import pytest

from rat_spn import RegionGraph


def random_graph(num_items, splits, parts, depth, seed=0):
    return RegionGraph.random(num_items, splits, depth, num_parts=parts, seed=seed)


def test_object_structure_has_24_leaf_regions_of_196_items():
    leaves = random_graph(784, 6, 2, 2).layers()[0]
    assert len(leaves) == 24
    assert {len(r) for r in leaves} == {196}


def test_background_structure_has_6_leaf_regions_of_1250_items():
    layers = random_graph(2500, 3, 2, 1).layers()
    assert len(layers[0]) == 6 and {len(r) for r in layers[0]} == {1250}
    assert layers[-1] == [tuple(range(2500))]


def test_each_random_split_partitions_every_item_exactly_once():
    graph = random_graph(784, 6, 2, 2)
    root_partitions = graph.partitions_of(graph.root)
    assert len(root_partitions) == 6
    for partition in root_partitions:
        leaves = [leaf for half in partition for p in graph.partitions_of(half) for leaf in p]
        assert sorted(i for leaf in leaves for i in leaf) == list(range(784))


def test_parts_are_near_equal_and_drawn_from_a_fresh_permutation():
    graph = RegionGraph(7, seed=3)
    first = graph.random_split(num_parts=3)
    assert sorted(len(p) for p in first) == [2, 2, 3]
    later = [graph.random_split(num_parts=3) for _ in range(5)]
    assert len(set(later + [first])) > 1


def test_same_seed_gives_same_graph_and_other_seed_another():
    layers = random_graph(100, 4, 2, 2, seed=5).layers()
    assert random_graph(100, 4, 2, 2, seed=5).layers() == layers
    assert random_graph(100, 4, 2, 2, seed=6).layers() != layers


def test_layers_alternate_regions_and_partitions_bottom_up():
    layers = random_graph(784, 6, 2, 2).layers()
    seen = set(layers[0])
    for k in range(1, len(layers)):
        for node in layers[k]:
            if k % 2:  # a partition: all of its regions are below it
                assert all(child in seen for child in node)
            else:
                seen.add(node)


def test_poon_domingos_cuts_rectangles_on_the_step_grid():
    graph = RegionGraph.poon_domingos(height=28, width=28, step=10, max_depth=2)
    pixel = np.arange(784).reshape(28, 28)
    for region in graph.regions:
        rows, cols = np.unique(np.array(region) // 28), np.unique(np.array(region) % 28)
        assert len(region) == len(rows) * len(cols)  # a full rectangle
        assert sorted(pixel[rows.min():rows.max() + 1, cols.min():cols.max() + 1].ravel()) == \
            list(region)
    root_cuts = graph.partitions_of(graph.root)
    assert len(root_cuts) == 4  # rows 10, 20 and columns 10, 20


def test_overlapping_or_incomplete_partitions_are_rejected_with_a_clear_error():
    graph = RegionGraph(4)
    graph.add_partition((0, 1, 2, 3), [(0, 1), (1, 2, 3)])
    with pytest.raises(ValueError, match='not decomposable'):
        graph.validate()
    graph = RegionGraph(4)
    graph.add_partition((0, 1, 2, 3), [(0,), (1, 2)])
    with pytest.raises(ValueError, match='not complete'):
        graph.validate()


def test_config_round_trip_rebuilds_the_same_layers():
    graph = random_graph(50, 3, 2, 2)
    assert RegionGraph.from_config(graph.get_config()).layers() == graph.layers()
