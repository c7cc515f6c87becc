namespace Trainyard.Supervision;

/// <summary>An error injected at a named point (<see cref="Faults"/>).</summary>
public sealed class InjectedFaultException(string point) : Exception($"Fault injected at {point} (TRAINYARD_FAULTS)")
{
    public string Point { get; } = point;
}
