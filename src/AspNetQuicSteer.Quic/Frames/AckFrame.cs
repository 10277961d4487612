using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>
/// ACK (RFC 9000 §19.3), types 0x02 and 0x03 (with ECN counts). A parsed frame keeps its encoded
/// ranges and enumerates them lazily (they were validated during Parse, so enumeration cannot fail);
/// a frame built for sending holds the caller's ranges. <see cref="AckDelay"/> is the raw field: the
/// caller shifts it by the peer's ack_delay_exponent (RFC 9000 §19.3), e.g. with <see cref="GetAckDelay"/>.
/// </summary>
internal readonly ref struct AckFrame
{
    // Parsed form: the Gap/ACK Range Length pairs following First ACK Range.
    private readonly ReadOnlySpan<byte> _encodedRanges;

    // Built form: all ranges, descending.
    private readonly ReadOnlySpan<AckRange> _ranges;
    private readonly bool _isBuilt;

    private AckFrame(ulong largest, ulong ackDelay, ulong rangeCount, ulong firstRange, EcnCounts? ecn, ReadOnlySpan<byte> encodedRanges)
    {
        LargestAcknowledged = largest;
        AckDelay = ackDelay;
        AdditionalRangeCount = rangeCount;
        FirstAckRange = firstRange;
        Ecn = ecn;
        _encodedRanges = encodedRanges;
        _ranges = default;
        _isBuilt = false;
    }

    /// <summary>
    /// Builds an ACK for sending from <paramref name="rangesDescending"/>: largest range first, each
    /// range separated from the previous one by at least one unacknowledged packet number.
    /// </summary>
    public AckFrame(ReadOnlySpan<AckRange> rangesDescending, ulong ackDelay, EcnCounts? ecn = null)
    {
        ValidateRanges(rangesDescending);
        LargestAcknowledged = rangesDescending[0].Largest;
        FirstAckRange = rangesDescending[0].Largest - rangesDescending[0].Smallest;
        AdditionalRangeCount = (ulong)(rangesDescending.Length - 1);
        AckDelay = ackDelay;
        Ecn = ecn;
        _ranges = rangesDescending;
        _encodedRanges = default;
        _isBuilt = true;
    }

    public ulong LargestAcknowledged { get; }

    /// <summary>The raw ACK Delay field, in units of 2^ack_delay_exponent microseconds.</summary>
    public ulong AckDelay { get; }

    /// <summary>RFC 9000 §19.3: ACK Range Count, the number of ranges after the first.</summary>
    public ulong AdditionalRangeCount { get; }

    public ulong FirstAckRange { get; }

    /// <summary>Present for type 0x03.</summary>
    public EcnCounts? Ecn { get; }

    /// <summary>
    /// RFC 9000 §19.3: the ACK delay in microseconds, ack_delay × 2^exponent, saturating instead of
    /// overflowing for hostile values.
    /// </summary>
    public ulong GetAckDelay(int ackDelayExponent)
    {
        if ((uint)ackDelayExponent > 63 || AckDelay > (ulong.MaxValue >> ackDelayExponent))
        {
            return ulong.MaxValue;
        }

        return AckDelay << ackDelayExponent;
    }

    /// <summary>The acknowledged ranges, largest first.</summary>
    public AckRangeEnumerator GetRanges()
        => _isBuilt
            ? new AckRangeEnumerator(_ranges)
            : new AckRangeEnumerator(LargestAcknowledged, FirstAckRange, _encodedRanges);

    public static AckFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong largest = reader.ReadVarInt();
        ulong ackDelay = reader.ReadVarInt();
        ulong rangeCount = reader.ReadVarInt();
        ulong firstRange = reader.ReadVarInt();

        // RFC 9000 §19.3.1: smallest = largest - first range; a negative result is a FRAME_ENCODING_ERROR.
        if (firstRange > largest)
        {
            throw QuicProtocolException.FrameEncoding("ACK First ACK Range exceeds Largest Acknowledged.", frameType);
        }

        ulong smallest = largest - firstRange;
        int rangesStart = reader.Position;

        // Each pair takes at least two bytes, so a hostile count ends in a truncation error quickly.
        for (ulong i = 0; i < rangeCount; i++)
        {
            ulong gap = reader.ReadVarInt();
            ulong length = reader.ReadVarInt();

            // RFC 9000 §19.3.1: largest = previous smallest - gap - 2, smallest = largest - length;
            // any negative packet number is a FRAME_ENCODING_ERROR.
            if (smallest < 2 || gap > smallest - 2)
            {
                throw QuicProtocolException.FrameEncoding("ACK Gap underflows below packet number 0.", frameType);
            }

            ulong rangeLargest = smallest - gap - 2;
            if (length > rangeLargest)
            {
                throw QuicProtocolException.FrameEncoding("ACK Range Length underflows below packet number 0.", frameType);
            }

            smallest = rangeLargest - length;
        }

        ReadOnlySpan<byte> encodedRanges = reader.Buffer[rangesStart..reader.Position];

        EcnCounts? ecn = null;
        if (frameType == (ulong)FrameType.AckEcn)
        {
            // RFC 9000 §19.3.2: ECT(0), ECT(1), ECN-CE counts.
            ulong ect0 = reader.ReadVarInt();
            ulong ect1 = reader.ReadVarInt();
            ulong ce = reader.ReadVarInt();
            ecn = new EcnCounts(ect0, ect1, ce);
        }

        return new AckFrame(largest, ackDelay, rangeCount, firstRange, ecn, encodedRanges);
    }

    public void Write(ref QuicWriter writer)
    {
        if (_isBuilt)
        {
            Write(ref writer, _ranges, AckDelay, Ecn);
            return;
        }

        WriteFixedFields(ref writer, LargestAcknowledged, AckDelay, AdditionalRangeCount, FirstAckRange, Ecn.HasValue);
        writer.WriteBytes(_encodedRanges);
        WriteEcn(ref writer, Ecn);
    }

    public int GetLength()
        => _isBuilt
            ? GetLength(_ranges, AckDelay, Ecn)
            : GetFixedFieldsLength(LargestAcknowledged, AckDelay, AdditionalRangeCount, FirstAckRange) + _encodedRanges.Length + GetEcnLength(Ecn);

    /// <summary>
    /// Writes an ACK frame straight from ranges (largest first, separated by gaps). Unlike building an
    /// <see cref="AckFrame"/>, the ranges may live in narrower-scoped memory (stackalloc) than the writer.
    /// </summary>
    public static void Write(ref QuicWriter writer, scoped ReadOnlySpan<AckRange> rangesDescending, ulong ackDelay, EcnCounts? ecn)
    {
        ValidateRanges(rangesDescending);
        AckRange first = rangesDescending[0];
        WriteFixedFields(ref writer, first.Largest, ackDelay, (ulong)(rangesDescending.Length - 1), first.Largest - first.Smallest, ecn.HasValue);
        for (int i = 1; i < rangesDescending.Length; i++)
        {
            // RFC 9000 §19.3.1: Gap = previous smallest - this largest - 2; Length = largest - smallest.
            writer.WriteVarInt(rangesDescending[i - 1].Smallest - rangesDescending[i].Largest - 2);
            writer.WriteVarInt(rangesDescending[i].Largest - rangesDescending[i].Smallest);
        }

        WriteEcn(ref writer, ecn);
    }

    /// <summary>Encoded length of the ACK frame <see cref="Write(ref QuicWriter, ReadOnlySpan{AckRange}, ulong, EcnCounts?)"/> would produce.</summary>
    public static int GetLength(scoped ReadOnlySpan<AckRange> rangesDescending, ulong ackDelay, EcnCounts? ecn)
    {
        ValidateRanges(rangesDescending);
        AckRange first = rangesDescending[0];
        int length = GetFixedFieldsLength(first.Largest, ackDelay, (ulong)(rangesDescending.Length - 1), first.Largest - first.Smallest);
        for (int i = 1; i < rangesDescending.Length; i++)
        {
            length += QuicVarInt.GetLength(rangesDescending[i - 1].Smallest - rangesDescending[i].Largest - 2)
                + QuicVarInt.GetLength(rangesDescending[i].Largest - rangesDescending[i].Smallest);
        }

        return length + GetEcnLength(ecn);
    }

    private static void WriteFixedFields(ref QuicWriter writer, ulong largest, ulong ackDelay, ulong rangeCount, ulong firstRange, bool withEcn)
    {
        writer.WriteVarInt((ulong)(withEcn ? FrameType.AckEcn : FrameType.Ack));
        writer.WriteVarInt(largest);
        writer.WriteVarInt(ackDelay);
        writer.WriteVarInt(rangeCount);
        writer.WriteVarInt(firstRange);
    }

    private static int GetFixedFieldsLength(ulong largest, ulong ackDelay, ulong rangeCount, ulong firstRange)
        => 1 + QuicVarInt.GetLength(largest) + QuicVarInt.GetLength(ackDelay) + QuicVarInt.GetLength(rangeCount) + QuicVarInt.GetLength(firstRange);

    private static void WriteEcn(ref QuicWriter writer, EcnCounts? ecn)
    {
        if (ecn is EcnCounts counts)
        {
            writer.WriteVarInt(counts.Ect0);
            writer.WriteVarInt(counts.Ect1);
            writer.WriteVarInt(counts.Ce);
        }
    }

    private static int GetEcnLength(EcnCounts? ecn)
        => ecn is EcnCounts counts ? QuicVarInt.GetLength(counts.Ect0) + QuicVarInt.GetLength(counts.Ect1) + QuicVarInt.GetLength(counts.Ce) : 0;

    private static void ValidateRanges(scoped ReadOnlySpan<AckRange> rangesDescending)
    {
        if (rangesDescending.IsEmpty)
        {
            throw new ArgumentException("An ACK frame acknowledges at least one range.", nameof(rangesDescending));
        }

        for (int i = 0; i < rangesDescending.Length; i++)
        {
            AckRange range = rangesDescending[i];
            if (range.Smallest > range.Largest || range.Largest > QuicVarInt.MaxValue)
            {
                throw new ArgumentException($"ACK range {i} is inverted or beyond 2^62-1.", nameof(rangesDescending));
            }

            // RFC 9000 §19.3.1: Gap encodes (number of unacknowledged packets - 1), so ranges must be
            // descending with at least one missing packet between them.
            if (i > 0 && (rangesDescending[i - 1].Smallest < 2 || range.Largest > rangesDescending[i - 1].Smallest - 2))
            {
                throw new ArgumentException($"ACK range {i} is not below range {i - 1} with a gap.", nameof(rangesDescending));
            }
        }
    }

    /// <summary>
    /// For packetization: how many of <paramref name="rangesDescending"/> (a prefix, largest first) an
    /// ACK frame can carry within <paramref name="space"/> bytes; 0 when not even one range fits.
    /// </summary>
    public static int GetRangeCountThatFits(ReadOnlySpan<AckRange> rangesDescending, ulong ackDelay, EcnCounts? ecn, int space)
    {
        if (rangesDescending.IsEmpty)
        {
            return 0;
        }

        int fixedLength = 1 + QuicVarInt.GetLength(rangesDescending[0].Largest) + QuicVarInt.GetLength(ackDelay)
            + QuicVarInt.GetLength(rangesDescending[0].Largest - rangesDescending[0].Smallest);
        if (ecn is EcnCounts counts)
        {
            fixedLength += QuicVarInt.GetLength(counts.Ect0) + QuicVarInt.GetLength(counts.Ect1) + QuicVarInt.GetLength(counts.Ce);
        }

        int pairsLength = 0;
        int fitting = 0;
        for (int count = 1; count <= rangesDescending.Length; count++)
        {
            if (count > 1)
            {
                AckRange previous = rangesDescending[count - 2];
                AckRange range = rangesDescending[count - 1];
                pairsLength += QuicVarInt.GetLength(previous.Smallest - range.Largest - 2) + QuicVarInt.GetLength(range.Largest - range.Smallest);
            }

            if (fixedLength + QuicVarInt.GetLength((ulong)(count - 1)) + pairsLength > space)
            {
                break;
            }

            fitting = count;
        }

        return fitting;
    }
}

/// <summary>Enumerates an ACK frame's ranges, largest first, without allocating.</summary>
internal ref struct AckRangeEnumerator
{
    private readonly ReadOnlySpan<AckRange> _ranges;
    private readonly bool _isBuilt;
    private QuicReader _encoded;
    private int _index;
    private AckRange _current;
    private bool _started;

    internal AckRangeEnumerator(ReadOnlySpan<AckRange> ranges)
    {
        _ranges = ranges;
        _isBuilt = true;
        _encoded = default;
        _index = -1;
        _current = default;
        _started = false;
    }

    internal AckRangeEnumerator(ulong largest, ulong firstRange, ReadOnlySpan<byte> encodedRanges)
    {
        _ranges = default;
        _isBuilt = false;
        _encoded = new QuicReader(encodedRanges);
        _index = -1;
        _current = new AckRange(largest - firstRange, largest);
        _started = false;
    }

    public readonly AckRange Current => _isBuilt ? _ranges[_index] : _current;

    public readonly AckRangeEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_isBuilt)
        {
            if (_index + 1 >= _ranges.Length)
            {
                return false;
            }

            _index++;
            return true;
        }

        if (!_started)
        {
            _started = true;
            return true;
        }

        if (_encoded.IsEmpty)
        {
            return false;
        }

        // Validated by AckFrame.Parse: these subtractions cannot underflow.
        ulong gap = _encoded.ReadVarInt();
        ulong length = _encoded.ReadVarInt();
        ulong largest = _current.Smallest - gap - 2;
        _current = new AckRange(largest - length, largest);
        return true;
    }
}
