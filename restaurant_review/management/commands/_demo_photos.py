"""Demo photos drawn with Pillow: a dish on a plate or in a bowl, on a wooden table, seen from
above in soft light, so demo pages look like a restaurant site rather than a broken one."""

import functools
import io
import math
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter

Colour = tuple[int, int, int]
WIDTH, HEIGHT = 1280, 960


def _jitter(rng: random.Random, colour: Colour, amount: int = 18) -> Colour:
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)
    return (r, g, b)


def _table(rng: random.Random) -> Image.Image:
    """Wooden planks: a base tone, grain lines, and seams between boards. Drawn at half the
    size and enlarged: the grain is soft anyway, for a quarter of the drawing and blurring."""
    width, height = WIDTH // 2, HEIGHT // 2
    base = rng.choice([(122, 84, 52), (150, 108, 70), (92, 64, 44), (176, 138, 98)])
    image = Image.new("RGB", (width, height), base)
    draw = ImageDraw.Draw(image)
    plank = height // rng.choice([4, 5, 6])
    for top in range(0, height, plank):
        tone = _jitter(rng, base, 14)
        draw.rectangle([0, top, width, top + plank], fill=tone)
        for _ in range(40):
            y = top + rng.uniform(0, plank)
            phase, wave = rng.uniform(0, math.tau), rng.uniform(0.5, 3)
            points = [
                (x, y + wave * math.sin(x / rng.uniform(30, 100) + phase))
                for x in range(0, width + 20, 20)
            ]
            draw.line(points, fill=_jitter(rng, tone, 22), width=rng.choice([1, 1, 2]))
        draw.line([(0, top), (width, top)], fill=tuple(c // 2 for c in tone), width=2)
    return image.filter(ImageFilter.GaussianBlur(0.6)).resize(
        (WIDTH, HEIGHT), Image.Resampling.BICUBIC
    )


def _shadowed(image: Image.Image, box: tuple[float, float, float, float], blur: int = 28) -> None:
    """A soft shadow under an object occupying `box`, light coming from the top left."""
    # Drawn and blurred at a quarter of the size, then enlarged: a shadow this soft looks the
    # same, for a sixteenth of the blur's work.
    scale = 4
    shadow = Image.new("L", (image.width // scale, image.height // scale), 0)
    x0, y0, x1, y1 = (v / scale for v in box)
    dx, dy = 24 / scale, 34 / scale
    ImageDraw.Draw(shadow).ellipse([x0 + dx, y0 + dy, x1 + dx, y1 + dy], fill=130)
    shadow = shadow.filter(ImageFilter.GaussianBlur(blur / scale)).resize(image.size)
    image.paste((20, 14, 10), mask=shadow)


def _plate(image: Image.Image, rng: random.Random, cx: int, cy: int, r: int) -> None:
    box = (cx - r, cy - r, cx + r, cy + r)
    _shadowed(image, box)
    draw = ImageDraw.Draw(image)
    rim = rng.choice([(246, 244, 238), (236, 232, 224), (58, 62, 66), (214, 222, 228)])
    draw.ellipse(box, fill=rim)
    inner = int(r * 0.74)
    well = tuple(max(0, c - 10) for c in rim)
    draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=well)
    # Glaze: a light arc where the light falls.
    draw.arc(
        [cx - r + 10, cy - r + 10, cx + r - 10, cy + r - 10],
        200,
        290,
        fill=(255, 255, 255),
        width=6,
    )


def _blob(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    cx: float,
    cy: float,
    radius: float,
    colour: Colour,
    *,
    points: int = 9,
) -> None:
    """An irregular round shape (a leaf, a meatball, a piece of tomato) with a highlight."""
    outline = []
    for index in range(points):
        angle = math.tau * index / points
        reach = radius * rng.uniform(0.75, 1.15)
        outline.append((cx + reach * math.cos(angle), cy + reach * math.sin(angle)))
    draw.polygon(outline, fill=colour)
    light = tuple(min(255, c + 45) for c in colour)
    draw.ellipse(
        [cx - radius * 0.45, cy - radius * 0.55, cx - radius * 0.05, cy - radius * 0.2], fill=light
    )


def _salad(image: Image.Image, rng: random.Random, cx: int, cy: int, r: int) -> None:
    draw = ImageDraw.Draw(image)
    greens = [(74, 132, 52), (104, 158, 64), (58, 108, 44), (138, 176, 84)]
    for _ in range(70):
        angle, dist = rng.uniform(0, math.tau), r * 0.62 * math.sqrt(rng.random())
        x, y = cx + dist * math.cos(angle), cy + dist * math.sin(angle)
        _blob(draw, rng, x, y, rng.uniform(r * 0.08, r * 0.16), _jitter(rng, rng.choice(greens)))
    for colour, count, size in [((214, 48, 40), 9, 0.09), ((245, 240, 225), 8, 0.07)]:
        for _ in range(count):
            angle, dist = rng.uniform(0, math.tau), r * 0.5 * math.sqrt(rng.random())
            x, y = cx + dist * math.cos(angle), cy + dist * math.sin(angle)
            _blob(draw, rng, x, y, r * size, _jitter(rng, colour, 10))


def _pasta(image: Image.Image, rng: random.Random, cx: int, cy: int, r: int) -> None:
    draw = ImageDraw.Draw(image)
    sauce = rng.choice([(196, 60, 36), (232, 206, 150), (120, 150, 60)])
    _blob(draw, rng, cx, cy, r * 0.58, sauce, points=14)
    noodle = (236, 204, 120)
    for _ in range(160):
        x, y = cx + rng.uniform(-0.5, 0.5) * r, cy + rng.uniform(-0.5, 0.5) * r
        if math.hypot(x - cx, y - cy) > r * 0.55:
            continue
        size = rng.uniform(r * 0.1, r * 0.3)
        start = rng.uniform(0, 360)
        draw.arc(
            [x - size, y - size, x + size, y + size],
            start,
            start + rng.uniform(90, 220),
            fill=_jitter(rng, noodle, 16),
            width=rng.choice([5, 6, 7]),
        )
    for _ in range(10):  # basil and parmesan
        x, y = cx + rng.uniform(-0.35, 0.35) * r, cy + rng.uniform(-0.35, 0.35) * r
        _blob(draw, rng, x, y, r * 0.05, rng.choice([(60, 120, 50), (250, 246, 230)]))


def _pizza(image: Image.Image, rng: random.Random, cx: int, cy: int, r: int) -> None:
    draw = ImageDraw.Draw(image)
    crust = int(r * 0.92)
    draw.ellipse([cx - crust, cy - crust, cx + crust, cy + crust], fill=(198, 138, 70))
    for _ in range(14):  # charred spots on the crust
        angle = rng.uniform(0, math.tau)
        x, y = cx + crust * 0.9 * math.cos(angle), cy + crust * 0.9 * math.sin(angle)
        _blob(draw, rng, x, y, r * 0.04, (88, 52, 28))
    sauce = int(r * 0.78)
    draw.ellipse([cx - sauce, cy - sauce, cx + sauce, cy + sauce], fill=(188, 46, 30))
    for _ in range(11):  # mozzarella
        angle, dist = rng.uniform(0, math.tau), sauce * 0.75 * math.sqrt(rng.random())
        x, y = cx + dist * math.cos(angle), cy + dist * math.sin(angle)
        _blob(draw, rng, x, y, r * rng.uniform(0.09, 0.14), (248, 240, 214), points=12)
    for _ in range(8):  # basil
        angle, dist = rng.uniform(0, math.tau), sauce * 0.7 * math.sqrt(rng.random())
        x, y = cx + dist * math.cos(angle), cy + dist * math.sin(angle)
        _blob(draw, rng, x, y, r * 0.055, (46, 110, 40), points=6)
    for index in range(4):  # slices
        angle = math.pi / 4 * index + rng.uniform(-0.05, 0.05)
        dx, dy = crust * math.cos(angle), crust * math.sin(angle)
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=(150, 96, 52), width=3)


def _bowl(image: Image.Image, rng: random.Random, cx: int, cy: int, r: int) -> None:
    """Ramen, curry or soup: broth in a deep bowl, with toppings."""
    draw = ImageDraw.Draw(image)
    broth = rng.choice([(214, 160, 80), (226, 196, 130), (120, 150, 60), (190, 96, 50)])
    inner = int(r * 0.8)
    draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=broth)
    for _ in range(30):  # fat drops on the surface
        x, y = cx + rng.uniform(-0.6, 0.6) * r, cy + rng.uniform(-0.6, 0.6) * r
        if math.hypot(x - cx, y - cy) < inner * 0.9:
            size = rng.uniform(3, 10)
            draw.ellipse([x - size, y - size, x + size, y + size], fill=_jitter(rng, broth, 30))
    for _ in range(3):  # egg halves
        angle = rng.uniform(0, math.tau)
        x, y = cx + inner * 0.45 * math.cos(angle), cy + inner * 0.45 * math.sin(angle)
        size = r * 0.14
        draw.ellipse([x - size, y - size * 0.8, x + size, y + size * 0.8], fill=(250, 248, 240))
        draw.ellipse(
            [x - size * 0.5, y - size * 0.4, x + size * 0.5, y + size * 0.4], fill=(240, 160, 40)
        )
    for _ in range(26):  # spring onion
        x, y = cx + rng.uniform(-0.4, 0.4) * r, cy + rng.uniform(-0.4, 0.4) * r
        draw.ellipse(
            [x - 6, y - 6, x + 6, y + 6], fill=(90, 160, 60), outline=(200, 230, 170), width=2
        )
    for _ in range(4):  # meat slices
        x, y = cx + rng.uniform(-0.35, 0.35) * r, cy + rng.uniform(-0.35, 0.35) * r
        _blob(draw, rng, x, y, r * 0.13, (176, 108, 80), points=12)


DISHES: dict[str, Callable[[Image.Image, random.Random, int, int, int], None]] = {
    "salad": _salad,
    "pasta": _pasta,
    "pizza": _pizza,
    "bowl": _bowl,
}


def _cutlery(image: Image.Image, rng: random.Random, cx: int, cy: int, r: int) -> None:
    draw = ImageDraw.Draw(image)
    metal = (196, 198, 202)
    x = cx + r + 70
    if x + 40 < WIDTH:
        draw.rounded_rectangle([x, cy - r * 0.9, x + 22, cy + r * 0.9], radius=10, fill=metal)
        draw.rounded_rectangle([x + 50, cy - r * 0.9, x + 66, cy + r * 0.9], radius=8, fill=metal)
    napkin = rng.choice([(232, 226, 214), (196, 72, 62), (90, 110, 130)])
    x = cx - r - 230
    if x > -150:
        draw.rounded_rectangle([x, cy - r * 0.7, x + 170, cy + r * 0.8], radius=12, fill=napkin)


@functools.cache
def _light_and_grain() -> tuple[Image.Image, Image.Image]:
    """What every photo shares: warm light falling off towards the corners (a mask), and a
    camera's grain so flat colours do not look drawn (made at half the size and enlarged:
    the grain of a small sensor)."""
    light = Image.radial_gradient("L").resize((WIDTH, HEIGHT)).point(lambda v: int(v * 0.55))
    grain = Image.effect_noise((WIDTH // 2, HEIGHT // 2), 40).resize((WIDTH, HEIGHT))
    return light, grain.convert("RGB")


def demo_photo(rng: random.Random, dish: str) -> bytes:
    """A JPEG of `dish` (one of DISHES) on a table, different for every state of `rng`."""
    image = _table(rng)
    r = int(HEIGHT * rng.uniform(0.36, 0.42))
    cx, cy = WIDTH // 2 + rng.randint(-80, 80), HEIGHT // 2 + rng.randint(-30, 30)
    _cutlery(image, rng, cx, cy, r)
    if dish == "bowl":
        _shadowed(image, (cx - r, cy - r, cx + r, cy + r))
        colour = rng.choice([(40, 44, 52), (238, 232, 220), (150, 60, 40)])
        ImageDraw.Draw(image).ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        _plate(image, rng, cx, cy, r)
    DISHES[dish](image, rng, cx, cy, r)
    image = image.filter(ImageFilter.BoxBlur(1.4))
    light, grain = _light_and_grain()
    image = Image.composite(Image.new("RGB", image.size, (16, 10, 6)), image, light)
    image = Image.blend(image, grain, 0.05)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=84, optimize=True, progressive=True)
    return buffer.getvalue()
