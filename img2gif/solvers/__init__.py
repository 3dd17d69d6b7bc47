"""Built-in solvers: how dPhi/dt = V(t, Phi, x0) is integrated (see ``base.Solver``)."""
