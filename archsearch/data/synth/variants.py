"""Per-variant constants: camera rig, outcome -> traffic-situation mix, speeds, lighting, paint.

One table per knob, keyed by variant ("front" dashcam on a car, "side"-ish wide camera high on
a truck), so that a new variant is a new row here rather than branches in the simulation.
"""

CAMERAS = {  # fov, height, pitch, hood; ego width and length (for contact geometry)
    "front": dict(fov_deg=80.0, height_m=1.3, pitch_deg=3.0, hood_m=2.0, ego_w=1.8, ego_len=4.6),
    "side": dict(fov_deg=105.0, height_m=2.4, pitch_deg=7.0, hood_m=1.2, ego_w=2.5, ego_len=7.0),
}
LIGHTING = {"front": ((0.6, 0.2, 0.2)), "side": ((0.3, 0.3, 0.4))}  # day, dusk, night
FAMILIES = {  # outcome -> {family: weight}
    "front": {
        "collision": {"lead_brake": 0.3, "stopped_ahead": 0.15, "cut_in": 0.2, "crossing": 0.25, "oncoming": 0.1},
        "near_miss": {"lead_brake": 0.2, "stopped_ahead": 0.2, "cut_in": 0.2, "crossing": 0.25, "oncoming": 0.15},
        "normal": {
            "lead_brake": 0.1,
            "stopped_ahead": 0.1,
            "cut_in": 0.1,
            "crossing": 0.15,
            "oncoming": 0.15,
            "following": 0.15,
            "overtaken": 0.1,
            "lane_change": 0.15,
        },
    },
    "side": {
        "collision": {"crossing": 0.5, "merge": 0.3, "lead_brake": 0.2},
        "near_miss": {"crossing": 0.45, "merge": 0.35, "lead_brake": 0.2},
        "normal": {
            "crossing": 0.3,
            "merge": 0.2,
            "lead_brake": 0.1,
            "following": 0.15,
            "overtaken": 0.1,
            "lane_change": 0.15,
        },
    },
}
SPEEDS = {  # ego cruising speed range (m/s) by setting
    "front": {"highway": (15.0, 28.0), "urban": (6.0, 14.0), "rural": (10.0, 22.0)},
    "side": {"highway": (14.0, 24.0), "urban": (5.0, 12.0), "rural": (9.0, 20.0)},
}
COLORS = [
    (0.85, 0.85, 0.85),
    (0.1, 0.1, 0.12),
    (0.55, 0.56, 0.6),
    (0.6, 0.1, 0.1),
    (0.15, 0.25, 0.55),
    (0.3, 0.32, 0.35),
    (0.9, 0.9, 0.88),
    (0.2, 0.35, 0.25),
    (0.75, 0.6, 0.3),
    (0.4, 0.4, 0.42),
]
