from core.concepts import gallery
from core.inputs import images


def test_the_catalogue_offers_at_least_eight_images_each_with_a_caption():
    catalogue = gallery.catalogue()
    assert len(catalogue) >= gallery.MIN_GALLERY
    for name, item in catalogue.items():
        assert item.name == name and item.caption and images.load_image(item.png).size[0] > 0
    shapes_captions = [item.caption for item in catalogue.values() if item.kind == "shapes"]
    assert len(shapes_captions) == len(set(shapes_captions))  # no two shapes images share a caption


def test_the_bundled_default_gallery_is_mostly_in_world():
    names = gallery.default_names("bundled")
    kinds = [gallery.catalogue()[n].kind for n in names]
    assert len(names) >= gallery.MIN_GALLERY and kinds.count("shapes") >= gallery.MIN_GALLERY
    assert len(gallery.default_names("hub")) == len(gallery.catalogue())
