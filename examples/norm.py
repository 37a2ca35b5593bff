import math


def norm(x: float, y: float) -> float:
    
    return r
