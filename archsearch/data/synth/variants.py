"""Per-variant constants: camera rig, outcome -> traffic-situation mix, speeds, lighting, paint.

One table per knob, keyed by variant ("front" dashcam on a car, "side"-ish wide camera high on
a truck), so that a new variant is a new row here rather than branches in the simulation.
"""

CAMERAS = {  # fov, height, pitch, hood; ego width and length (for contact geometry)
    "front": dict(fov_deg=60.0, height_m=1.3, pitch_deg=3.0, hood_m=2.0, ego_w=1.8, ego_len=4.6),
    "side": dict(fov_deg=90.0, height_m=2.4, pitch_deg=7.0, hood_m=1.2, ego_w=2.5, ego_len=7.0),
}
LIGHTING = {"front": ((0.75, 0.2, 0.05)), "side": ((0.2, 0.2, 0.6))}  # day, dusk, night: trucks drive at night
RAIN = {"front": 0.4, "side": 0.1}  # share of clips driven in rain (streaks on the windshield, shorter sight)
FAMILIES = {  # outcome -> {family: weight}
    "front": {
        "collision": {"lead_brake": 0.35, "cut_in": 0.35, "cut_out": 0.3},
        "near_miss": {"cut_out": 0.6, "stopped_ahead": 0.4},
        "normal": {
            "lead_brake": 0.25,
            "cut_in": 0.15,
            "cut_out": 0.15,
            "following": 0.25,
            "overtaken": 0.1,
            "lane_change": 0.1,
        },
    },
    "side": {
        "collision": {"crossing": 0.5, "merge": 0.5},
        "near_miss": {"crossing": 0.5, "merge": 0.5},
        "normal": {"crossing": 0.4, "merge": 0.4, "following": 0.1, "overtaken": 0.1},
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
