"""The warp figure: its flow colours say how far things move, its caption says the numbers."""
import numpy as np
import pytest
import torch

from img2gif.plot import GAP, MIN_PANEL, TITLE_H, _nice_scale, det_colour, flow_colour, warp_figure


def test_nice_scale_rounds_up_to_1_2_5():
    assert [_nice_scale(v) for v in (0.0, 0.7, 1.0, 1.3, 3.2, 7.5, 12, 99)] == [0.1, 1, 1, 2, 5, 10, 20, 100]


def test_flow_colour_has_a_scale_in_pixels():
    still = flow_colour(np.zeros(1), np.zeros(1), 10.0)[0]
    half = flow_colour(np.array([5.0]), np.zeros(1), 10.0)[0]
    full = flow_colour(np.array([10.0]), np.zeros(1), 10.0)[0]
    beyond = flow_colour(np.array([40.0]), np.zeros(1), 10.0)[0]
    assert tuple(still) == (255, 255, 255)
    assert tuple(full) == (255, 0, 0) and tuple(beyond) == (255, 0, 0)  # right is red, saturated at the scale
    assert half[0] == 255 and 120 < half[1] < 135  # half the scale: half saturated
    down = flow_colour(np.zeros(1), np.array([10.0]), 10.0)[0]
    assert down[1] == 255 and down[0] < 200 and down[2] == 0  # down is green


def test_det_colour_marks_folds_red():
    colours = det_colour(np.array([-0.5, 0.0, 1.0, 2.0]))
    assert tuple(colours[0]) == (255, 0, 0) and tuple(colours[1]) == (255, 0, 0)
    assert tuple(colours[2]) == (128, 128, 128)


def test_a_uniform_pan_is_coloured_by_its_length():
    """A 3 px pan right: the scale is 5 px and the flow panel is 3/5 saturated red (not flat full colour)."""
    h, w = 40, 60
    phi = torch.zeros(2, h, w)
    phi[0] = 3.0 * 2 / (w - 1)  # 3 px in normalised units
    image = np.full((h, w, 3), 90, np.uint8)
    figure = np.asarray(warp_figure(image, phi))
    zoom = -(-MIN_PANEL // w)
    pw, ph = w * zoom, h * zoom
    assert figure.shape[1] == 3 * pw + 4 * GAP
    flow_pixel = figure[TITLE_H + ph // 2, GAP + pw + GAP + pw // 2]
    assert flow_pixel[0] == 255 and abs(int(flow_pixel[1]) - round(255 * (1 - 3 / 5))) <= 2


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="warp_figure"):
        warp_figure(np.zeros((10, 10), np.uint8), torch.zeros(2, 5, 5))
    with pytest.raises(ValueError, match="warp_figure"):
        warp_figure(np.zeros((10, 10, 3), np.uint8), torch.zeros(3, 5, 5))
