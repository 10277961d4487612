namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>
/// The one typed error for bytes on the control socket that are not a valid frame of the version we speak
/// (Invariant 7): the receiver answers with an Error frame carrying <see cref="ErrorCode"/> and closes that peer
/// only. Anything else escaping the codec is a bug.
/// </summary>
internal sealed class CoordinatorProtocolException : Exception
{
    public CoordinatorProtocolException(CoordinatorErrorCode errorCode, string message)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    public CoordinatorProtocolException()
        : this(CoordinatorErrorCode.MalformedFrame, "Malformed coordinator frame.")
    {
    }

    public CoordinatorProtocolException(string message)
        : this(CoordinatorErrorCode.MalformedFrame, message)
    {
    }

    public CoordinatorProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = CoordinatorErrorCode.MalformedFrame;
    }

    public CoordinatorErrorCode ErrorCode { get; }
}

/// <summary>
/// A request the coordinator refused: thrown by <see cref="GenerationCoordinatorState"/> for invalid transitions
/// (the server turns it into an Error frame and keeps the connection), and by
/// <see cref="GenerationCoordinatorClient"/> when the coordinator answers with an Error frame.
/// </summary>
internal sealed class CoordinatorRequestException : Exception
{
    public CoordinatorRequestException(CoordinatorErrorCode errorCode, string message)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    public CoordinatorRequestException()
        : this(CoordinatorErrorCode.InvalidTransition, "The coordinator refused the request.")
    {
    }

    public CoordinatorRequestException(string message)
        : this(CoordinatorErrorCode.InvalidTransition, message)
    {
    }

    public CoordinatorRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = CoordinatorErrorCode.InvalidTransition;
    }

    public CoordinatorErrorCode ErrorCode { get; }
}
