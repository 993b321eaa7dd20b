//! Drawing primitives for the diagnosis pictures, straight into an RGB buffer with an 8×8 bitmap
//! font (no system fonts, no font files: it works on a fresh machine).

use image::{Rgb, RgbImage};

/// Background.
pub const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
/// Text and axes.
pub const INK: Rgb<u8> = Rgb([40, 40, 40]);
/// Grid lines.
pub const GRID: Rgb<u8> = Rgb([215, 215, 215]);
/// Width of one character of [`text`].
pub const CHAR_W: u32 = 8;

/// Sets one pixel; outside the image, nothing.
pub fn put(img: &mut RgbImage, x: u32, y: u32, c: Rgb<u8>) {
    if x < img.width() && y < img.height() {
        img.put_pixel(x, y, c);
    }
}

/// A horizontal line from `x0` to `x1` (exclusive).
pub fn hline(img: &mut RgbImage, x0: u32, x1: u32, y: u32, c: Rgb<u8>) {
    for x in x0..x1 {
        put(img, x, y, c);
    }
}

/// A horizontal line of 5-px dashes and gaps from `x0` to `x1` (exclusive); `phase` 5 fills
/// the gaps of phase 0, so two lines at the same height both show.
pub fn dashed_hline(img: &mut RgbImage, x0: u32, x1: u32, y: u32, c: Rgb<u8>, phase: u32) {
    for x in (x0..x1).filter(|x| (x - x0 + phase) % 10 < 5) {
        put(img, x, y, c);
    }
}

/// A vertical line, both ends included, in either order.
pub fn vline(img: &mut RgbImage, x: u32, y0: u32, y1: u32, c: Rgb<u8>) {
    for y in y0.min(y1)..=y0.max(y1) {
        put(img, x, y, c);
    }
}

/// A line from (`x0`, `y0`) to (`x1`, `y1`), in f64 pixel coordinates; with `dashed`, every
/// other 5-px stretch is left out. Non-finite ends draw nothing.
pub fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), c: Rgb<u8>, dashed: bool) {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return;
    }
    let n = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as u32;
    for i in 0..=n {
        if dashed && (i / 5) % 2 == 1 {
            continue;
        }
        let t = f64::from(i) / f64::from(n);
        let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        if x >= -0.5 && y >= -0.5 {
            // Beyond the image (or u32) on the far side: dropped by `put`.
            put(img, x.round() as u32, y.round() as u32, c);
        }
    }
}

/// A filled `w`×`h` rectangle (a legend's swatch).
pub fn rect(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, c: Rgb<u8>) {
    for yy in y..y + h {
        hline(img, x, x + w, yy, c);
    }
}

/// ASCII text in font8x8's public-domain 8×8 glyphs, top-left corner at (`x`, `y`); other
/// characters print as `?`.
pub fn text(img: &mut RgbImage, x: u32, y: u32, s: &str, c: Rgb<u8>) {
    for (i, ch) in s.chars().enumerate() {
        let code = if ch.is_ascii() {
            ch as usize
        } else {
            b'?' as usize
        };
        let glyph = font8x8::legacy::BASIC_LEGACY[code];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    put(img, x + CHAR_W * i as u32 + col, y + row as u32, c);
                }
            }
        }
    }
}

/// Saves `img` as a PNG.
///
/// # Errors
/// The PNG encoder's or the file's error.
pub fn save(img: &RgbImage, path: &std::path::Path) -> std::io::Result<()> {
    img.save(path).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_both_ends_and_dashes_leave_gaps() {
        let mut img = RgbImage::from_pixel(30, 10, WHITE);
        line(&mut img, (0.0, 5.0), (29.0, 5.0), INK, false);
        assert_eq!(img.get_pixel(0, 5), &INK);
        assert_eq!(img.get_pixel(29, 5), &INK);
        let mut d = RgbImage::from_pixel(30, 10, WHITE);
        line(&mut d, (0.0, 5.0), (29.0, 5.0), INK, true);
        let inked = (0..30).filter(|&x| d.get_pixel(x, 5) == &INK).count();
        assert!((14..=16).contains(&inked), "{inked}");
        // Off-image and NaN ends are harmless.
        line(&mut d, (-50.0, -3.0), (f64::NAN, 1e300), INK, false);
        line(&mut d, (-50.0, -3.0), (100.0, 40.0), INK, false);
    }
}
