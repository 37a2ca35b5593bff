import math


def norm(x: float, y: float) -> float:
    r = 
    return r
