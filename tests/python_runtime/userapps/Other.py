class Something(object):
    pass
