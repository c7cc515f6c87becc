namespace Trainyard.Persistence;

/// <summary>How a record is kept in its table: the definition as accepted, and its state, each as text.</summary>
public interface IRecordCodec<T>
{
    string Definition(T record);

    string State(T record);

    T Decode(string name, long sequence, string definition, string state);
}
