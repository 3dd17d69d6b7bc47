"""Draw the example pair shipped in examples/: a cartoon face, then the same face smiling.

    python examples/make_examples.py        # rewrites face_neutral.png and face_smile.png
"""
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SIZE = 256


def face(smile: float) -> Image.Image:
    """smile in [0, 1]: 0 a straight mouth, 1 mouth corners up, cheeks raised, eyes narrowed.

    The change is a deformation (nothing appears or vanishes), the case a warp is made for.
    """
    im = Image.new("RGB", (SIZE, SIZE))
    d = ImageDraw.Draw(im)
    for y in range(SIZE):  # soft vertical gradient: a background with some texture
        d.line([(0, y), (SIZE, y)], fill=(92 + y // 6, 148 + y // 10, 204 - y // 8))
    d.ellipse([48, 36, 208, 228], fill=(240, 200, 160), outline=(120, 80, 50), width=3)
    d.pieslice([44, 24, 212, 140], 180, 360, fill=(90, 55, 30))  # hair
    for cx in (100, 156):
        squint = 3 * smile
        d.ellipse([cx - 14, 95 + squint, cx + 14, 113 - squint], fill=(255, 255, 255), outline=(60, 40, 30), width=2)
        d.ellipse([cx - 6, 98 + squint / 2, cx + 6, 110 - squint / 2], fill=(50, 90, 60))
        d.line([(cx - 16, 84 - 2 * smile), (cx + 16, 82 - 3 * smile)], fill=(90, 55, 30), width=4)  # brows
    d.polygon([(128, 118), (120, 150), (136, 150)], fill=(220, 170, 135))  # nose
    for cx in (84, 172):  # cheeks rise with the smile
        cy = 162 - 8 * smile
        d.ellipse([cx - 13, cy - 8, cx + 13, cy + 8], fill=(235, 165, 150))
    half = 30 + 6 * smile         # the mouth widens ...
    lift = 16 * smile             # ... and its corners rise along a parabola
    points = [(128 + x, 180 - lift * (x / half) ** 2) for x in range(-int(half), int(half) + 1, 2)]
    d.line(points, fill=(150, 40, 50), width=7, joint="curve")
    return im.filter(ImageFilter.GaussianBlur(0.7))


if __name__ == "__main__":
    face(0.0).save(HERE / "face_neutral.png")
    face(1.0).save(HERE / "face_smile.png")
    print("wrote", HERE / "face_neutral.png", HERE / "face_smile.png")
