"""Layers: the pieces networks are assembled from (see base.py for writing your own).

Shapes given to layers exclude the batch axis; arrays are NCHW float32. Every layer's forward and
backward call fastcnn.functional ops.
"""
from . import initializers
from .activation import ELU, PReLU, ReLU, RReLU, Activation, LeakyReLU, Sigmoid, Softmax, Tanh
from .base import Layer, Param, get, register, registered
from .conv import Conv1D, Conv2D, Conv2DTranspose
from .core import BatchNorm, Dense, Dropout, Flatten, LocalResponseNorm
from .input import Input, InputLayer, SymbolicTensor
from .merge import Add, Concatenate
from .pool import AvgPool1D, AvgPool2D, GlobalAvgPool2D, MaxPool1D, MaxPool2D

__all__ = ["Layer", "Param", "get", "register", "registered", "initializers",
           "Input", "InputLayer", "SymbolicTensor",
           "Conv1D", "Conv2D", "Conv2DTranspose",
           "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D", "GlobalAvgPool2D",
           "Dense", "Flatten", "BatchNorm", "LocalResponseNorm", "Dropout",
           "ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "Activation",
           "Concatenate", "Add"]
